"""The rule on code, before it is deployed: CloudFormation, CDK assemblies, Terraform HCL and plan JSON."""
