"""The control plane: a Kopf operator that compiles each Function, publishes it to
Redis for the gateways, and owns the Deployment and Service its instances run in.

Modules: `wiring` (configuration, Kopf settings, log-in, `operate`), `handlers`
(the Kopf handlers), `objects` (the owned objects, pure), `conditions` (status,
pure), `cluster` (the Kubernetes API and the permissions it takes), `loader`
(the init container of function pods).
"""
