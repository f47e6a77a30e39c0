import os


def handler(event, context):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    print(f"greeting {name}")
    return {
        "message": f"{os.environ['GREETING']}, {name}!",
        "requestId": context.aws_request_id,
        "remainingMs": context.get_remaining_time_in_millis(),
    }
