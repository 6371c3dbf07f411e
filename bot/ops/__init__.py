"""Running rankbot as a service: the `[ops]` listener (health, readiness, Prometheus metrics,
and the admin channel the command line uses to reach a running bot) and the admin operations.

Self-contained so that any role of the bot can start it (`bot.app.start_ops`): the listener
is a thread of its own (it must answer `/healthz` while the event loop it judges is stuck),
everything it learns comes from the loop through small published values, and the admin
operations run on the bot's loop, against the store protocols only.
"""
