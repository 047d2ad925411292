"""The CloudFormation stack that runs the handler in one account and region: EventBridge rule on the RDS calls that
can change the verdict, a daily rescan as a safety net, the function, its role, its log group and its dead-letter
queue.

One stack per account and region (for an Organization: a service-managed StackSet): CloudTrail's events reach
EventBridge's default bus in the account and region where the call was made, so a function there sees them with no
cross-account bus or role, and a fault in one account never stops another.  The role's policy comes from the kit's
permission registry (what ``policy`` prints), never a wildcard action.
"""
from __future__ import annotations

from neptune_audit.continuous import events

FUNCTION = "neptune-audit-continuous"  # per account and region: Lambda names are regional
HANDLER = f"{__package__}.handler.handler"  # the module path, as Lambda imports it
RUNTIME = "python3.12"


def _sub(text: str) -> dict:
    return {"Fn::Sub": text}


def _statements(auto_remediate: bool) -> list[dict]:
    from neptune_audit import api

    doc = api.policy("remediate" if auto_remediate else "audit", security_hub=True)
    return doc["Statement"]


def template(*, organization: bool = False, sns_topic: str | None = None, auto_remediate: bool = False) -> dict:
    """The stack, as a dict (``yaml.safe_dump`` it).  ``organization``: the code bucket is named per region
    (``PREFIX-REGION``: Lambda reads its code from a bucket in its own region), for a StackSet's many regions."""
    from neptune_audit.continuous import config

    code_bucket = _sub("${CodeBucketPrefix}-${AWS::Region}") if organization else {"Ref": "CodeBucket"}
    parameters = {
        ("CodeBucketPrefix" if organization else "CodeBucket"): {
            "Type": "String", "Description": ("Buckets named PREFIX-REGION, one in each region, holding the package "
                                              "(neptune-audit continuous package)" if organization else
                                              "The bucket holding the package (in this stack's region)")},
        "CodeKey": {"Type": "String", "Default": "neptune-audit/function.zip",
                    "Description": "The package's key in that bucket"},
        "ExceptionsLocation": {"Type": "String", "Default": "",
                               "Description": "The exceptions file: s3://BUCKET/KEY or ssm:/PARAMETER (empty: none)"},
        "CalendarLocation": {"Type": "String", "Default": "",
                             "Description": "An engine calendar (calendar update -o FILE): s3://BUCKET/KEY or "
                                            "ssm:/PARAMETER (empty: the one in the package)"},
        "ManagedByTag": {"Type": "String", "Default": "",
                         "Description": "KEY or KEY=VALUE: instances with this tag are owned by code"},
        "LogRetentionDays": {"Type": "Number", "Default": 365,
                             "AllowedValues": [30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 3653]},
        "RescanSchedule": {"Type": "String", "Default": "rate(1 day)",
                           "Description": "The safety-net rescan of this account and region"},
    }
    conditions, config_read = {}, []
    for name, param in (("Exceptions", "ExceptionsLocation"), ("Calendar", "CalendarLocation")):
        # s3://BUCKET/KEY -> that one object; ssm:/NAME -> that one parameter (the location with its separator
        # appended splits the same way whether or not it is empty)
        s3 = _part(param, "://")
        ssm = _part(param, ":")
        conditions[f"{name}InS3"] = {"Fn::Equals": [s3[0], "s3"]}
        conditions[f"{name}InSsm"] = {"Fn::Equals": [ssm[0], "ssm"]}
        config_read.append({"Fn::If": [f"{name}InS3", {
            "Sid": f"Read{name}Object", "Effect": "Allow", "Action": ["s3:GetObject"],
            "Resource": _join(["arn:", {"Ref": "AWS::Partition"}, ":s3:::", s3[1]])}, {"Ref": "AWS::NoValue"}]})
        config_read.append({"Fn::If": [f"{name}InSsm", {
            "Sid": f"Read{name}Parameter", "Effect": "Allow", "Action": ["ssm:GetParameter"],
            "Resource": _join(["arn:", {"Ref": "AWS::Partition"}, ":ssm:", {"Ref": "AWS::Region"}, ":",
                               {"Ref": "AWS::AccountId"}, ":parameter", ssm[1]])}, {"Ref": "AWS::NoValue"}]})
    statements = [*_statements(auto_remediate),
                  {"Sid": "WriteItsLog", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                   "Resource": {"Fn::GetAtt": ["LogGroup", "Arn"]}},
                  {"Sid": "DeadLetters", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                   "Resource": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}},
                  *config_read]
    if sns_topic:
        statements.append({"Sid": "PublishFailures", "Effect": "Allow", "Action": ["sns:Publish"],
                           "Resource": sns_topic})
    env = {config.ENV_EXCEPTIONS: {"Ref": "ExceptionsLocation"}, config.ENV_CALENDAR: {"Ref": "CalendarLocation"},
           config.ENV_MANAGED_BY: {"Ref": "ManagedByTag"},
           config.ENV_AUTO_REMEDIATE: "true" if auto_remediate else "false"}
    if sns_topic:
        env[config.ENV_SNS] = sns_topic
    target = {"Arn": {"Fn::GetAtt": ["Function", "Arn"]}, "Id": "neptune-audit",
              "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}},
              "RetryPolicy": {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600}}
    resources = {
        "DeadLetterQueue": {"Type": "AWS::SQS::Queue",
                            "Properties": {"MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True}},
        "DeadLetterQueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [{"Ref": "DeadLetterQueue"}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
                "Resource": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
                "Condition": {"ArnEquals": {"aws:SourceArn": [{"Fn::GetAtt": ["ChangeRule", "Arn"]},
                                                              {"Fn::GetAtt": ["RescanRule", "Arn"]}]}}}]}}},
        "LogGroup": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                     "Properties": {"LogGroupName": f"/aws/lambda/{FUNCTION}",
                                    "RetentionInDays": {"Ref": "LogRetentionDays"}}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "Description": "neptune-audit continuous: read Neptune, write Security Hub findings"
                           + (", turn Auto Minor Version Upgrade back on" if auto_remediate else ""),
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "neptune-audit-continuous",
                          "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]}},
        "Function": {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": FUNCTION, "Description": "Neptune-001 on CloudTrail's RDS events (neptune-audit)",
            "Runtime": RUNTIME, "Handler": HANDLER, "Architectures": ["x86_64"], "MemorySize": 1024,
            "Timeout": 300, "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"S3Bucket": code_bucket, "S3Key": {"Ref": "CodeKey"}},
            "DeadLetterConfig": {"TargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}},
            "LoggingConfig": {"LogGroup": {"Ref": "LogGroup"}, "LogFormat": "Text"},
            "Environment": {"Variables": env}}},
        "ChangeRule": {"Type": "AWS::Events::Rule", "Properties": {
            "Description": "RDS API calls (Neptune's are RDS calls) that can change Neptune-001's verdict",
            "EventPattern": events.pattern(), "State": "ENABLED", "Targets": [target]}},
        "RescanRule": {"Type": "AWS::Events::Rule", "Properties": {
            "Description": "Daily rescan of this account and region, in case an event was lost",
            "ScheduleExpression": {"Ref": "RescanSchedule"}, "State": "ENABLED", "Targets": [target]}},
        "ChangeRulePermission": _permission("ChangeRule"),
        "RescanRulePermission": _permission("RescanRule"),
    }
    description = ("neptune-audit continuous assurance for Neptune-001 (Auto Minor Version Upgrade) in one account "
                   "and region. Needs a CloudTrail trail with logging enabled: EventBridge receives "
                   "'AWS API Call via CloudTrail' events only then. Deploy to every region with Neptune"
                   + (" (service-managed StackSet across the Organization)." if organization else "."))
    return {"AWSTemplateFormatVersion": "2010-09-09", "Description": description[:1024],
            "Parameters": parameters, "Conditions": conditions, "Resources": resources,
            "Outputs": {"FunctionArn": {"Value": {"Fn::GetAtt": ["Function", "Arn"]}},
                        "DeadLetterQueueUrl": {"Value": {"Ref": "DeadLetterQueue"}}}}


def _join(parts: list) -> dict:
    return {"Fn::Join": ["", parts]}


def _part(param: str, separator: str) -> tuple[dict, dict]:
    """The first and second parts of a location split at ``separator`` ("s3" and "BUCKET/KEY")."""
    split = {"Fn::Split": [separator, _join([{"Ref": param}, separator])]}
    return {"Fn::Select": [0, split]}, {"Fn::Select": [1, split]}


def _permission(rule: str) -> dict:
    return {"Type": "AWS::Lambda::Permission", "Properties": {
        "Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "Function"}, "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": [rule, "Arn"]}}}


def dump(doc: dict) -> str:
    """The template as YAML CloudFormation accepts: no anchors or aliases (a repeated value is written again)."""
    import yaml

    class Plain(yaml.SafeDumper):
        def ignore_aliases(self, data):
            return True

    return yaml.dump(doc, Dumper=Plain, sort_keys=False, width=120)
