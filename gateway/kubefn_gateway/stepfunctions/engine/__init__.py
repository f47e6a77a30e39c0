"""The state machine engine: executions stepped through their definitions.

An execution is a tree of *runs*: the top run walks the definition's states, a
Parallel branch or a Map iteration is a child run walking its own scope. A
worker claims a ready run, advances it (`interpreter`) to its next durable point
and commits the result (`plan`) in one atomic step to a store: Redis for
Standard executions (`redis_store`), memory for Express ones (`memory_store`).
`workers` claims and drives runs. `interpreter` walks a run through its states,
with the Task steps in `task_steps` (what a Resource names is in `tasks`) and the
Parallel and Map steps in `fork_steps`; `service` is the engine as the API sees it.
"""
