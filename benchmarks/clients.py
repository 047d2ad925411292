"""Client CPU per account-region: 20 accounts x 20 regions of `rds` clients, as the kit builds them.

    python -m benchmarks.clients own   # the console script's process (own_process: shared classes and models)
    python -m benchmarks.clients lib   # the kit as a library, inside someone else's process
"""
import sys
import time

from neptune_audit.aws import tuning

REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1",
           "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1",
           "ap-southeast-2", "ca-central-1", "sa-east-1", "eu-south-1", "me-south-1", "af-south-1"]


def build(connection, accounts: int) -> None:
    for _ in range(accounts):
        session = tuning.new_botocore_session()  # the kit's sessions are botocore's (Connection.base_session)
        session.set_credentials("a", "b")
        session.set_config_variable("region", "us-east-1")
        for region in REGIONS:
            client = connection.client(session, "rds", region)
            client.meta.service_model.operation_model("DescribeDBInstances")


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "own"
    if mode == "own":
        tuning.own_process()
    from neptune_audit.aws.connection import Connection

    tuning.load_models()
    connection = Connection()
    build(connection, 2)  # warm: the first client of each kind pays for what later ones share
    started = time.process_time()
    build(connection, 20)
    print(f"{mode}: {(time.process_time() - started) / (20 * len(REGIONS)) * 1000:.2f} ms CPU per account-region client")


if __name__ == "__main__":
    main()
