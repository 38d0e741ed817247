"""boto3 clients for the S3 and Kinesis connectors: the usual credential chain (environment, ~/.aws, instance
role), with optional ``--NAME-region`` and ``--NAME-endpoint-url`` (an S3- or Kinesis-compatible server)."""

AWS_PARAMS = ["region", "endpoint-url"]


class AwsUnavailable(Exception):
    pass


def aws_client(service, settings):
    try:
        import boto3
    except ImportError as e:
        raise AwsUnavailable("needs boto3 (Debian: python3-boto3): {0}".format(e))
    return boto3.client(service, region_name=settings.params.region or "us-east-1",
                        endpoint_url=settings.params.endpoint_url)


def aws_errors():
    """The exceptions a boto3 call raises for the service's refusals and for the network."""
    import botocore.exceptions
    return (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
