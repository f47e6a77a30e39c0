"""DynamoDB's API (2012-08-10) and DynamoDB Streams over Redis-backed Tables."""
