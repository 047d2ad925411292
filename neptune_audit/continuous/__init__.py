"""Continuous assurance: the rule judged when a change happens, by a Lambda function on CloudTrail's events.

``events`` says which API calls can change the verdict and whom they touch; ``handler`` re-describes the region and
sends the same Security Hub findings as ``scan --security-hub``; ``template`` writes the CloudFormation stack (StackSet
ready) and ``package`` the deployment zip.
"""
