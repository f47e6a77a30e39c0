"""The control plane: a Kopf operator that compiles each Function, Table and
StateMachine, publishes it to Redis for the gateways, and owns the Deployment
and Service a Function's instances run in.

Modules: `wiring` (configuration, Kopf settings, log-in, `operate`), `handlers`
(the Functions' Kopf handlers), `tables` (the Tables'), `statemachines` (the
StateMachines'), `observer` (status from what the data plane observes),
`objects` (the owned objects, pure), `conditions` (status, pure), `cluster`
(the Kubernetes API and the permissions it takes), `loader` (the init container
of function pods).
"""
