# The demo's Terraform: cluster "events-graph" (the simulated Organization's member-b account, eu-west-1).
# `neptune-audit scan --demo --organization --iac examples/iac` links its live instance to the line below.

variable "auto_minor_version_upgrade" {
  description = "Auto Minor Version Upgrade for the events graph's instances"
  type        = bool
  default     = false
}

resource "aws_neptune_cluster" "events" {
  cluster_identifier = "events-graph"
  engine             = "neptune"
  engine_version     = "1.4.6.2"
}

resource "aws_neptune_cluster_instance" "events_writer" {
  identifier                 = "events-graph-1"
  cluster_identifier         = aws_neptune_cluster.events.id
  instance_class             = "db.r6g.large"
  auto_minor_version_upgrade = var.auto_minor_version_upgrade
}
