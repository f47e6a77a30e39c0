"""Step Functions on the gateway: state machines as the API and manifests publish them,
and (beside them) their executions."""
