from neptune_audit.cli import run

run()
