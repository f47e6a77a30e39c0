"""DynamoDB's errors, in the shape and with the status codes boto3 expects."""

from __future__ import annotations

from kubefn_gateway.awsjson import AwsJsonError


class DynamoDbError(AwsJsonError):
    namespace = "com.amazonaws.dynamodb.v20120810"


class ValidationError(DynamoDbError):
    code = "ValidationException"


class ResourceNotFound(DynamoDbError):
    code = "ResourceNotFoundException"


class ResourceInUse(DynamoDbError):
    code = "ResourceInUseException"


class ConditionalCheckFailed(DynamoDbError):
    code = "ConditionalCheckFailedException"


class TransactionCanceled(DynamoDbError):
    code = "TransactionCanceledException"


class TransactionConflict(DynamoDbError):
    code = "TransactionConflictException"


class IdempotentParameterMismatch(DynamoDbError):
    code = "IdempotentParameterMismatchException"


class ProvisionedThroughputExceeded(DynamoDbError):
    code = "ProvisionedThroughputExceededException"


class ItemCollectionSizeLimitExceeded(DynamoDbError):
    code = "ItemCollectionSizeLimitExceededException"

    def __init__(self, message: str, *, position: int = 0) -> None:
        super().__init__(message)
        self.position = position
        """Which change of a commit would have passed the limit."""


class LimitExceeded(DynamoDbError):
    code = "LimitExceededException"


class ExpiredIterator(DynamoDbError):
    code = "ExpiredIteratorException"


class TrimmedDataAccess(DynamoDbError):
    code = "TrimmedDataAccessException"


class InternalServerError(DynamoDbError):
    code = "InternalServerError"
    status = 500
