"""Called with each batch of changes to the Users table (see examples/tables/users.yaml).

The event is DynamoDB Streams' Lambda event, so this handler runs unchanged on AWS.
"""

import json


def handler(event, context):
    for record in event["Records"]:
        change = record["dynamodb"]
        print(
            json.dumps(
                {
                    "event": record["eventName"],
                    "keys": change["Keys"],
                    "sequence": change["SequenceNumber"],
                    "new": change.get("NewImage"),
                }
            )
        )
    # Nothing failed: the whole batch is done (list the SequenceNumbers to retry otherwise).
    return {"batchItemFailures": []}
