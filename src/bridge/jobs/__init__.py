"""Periodic work: timers that expire and remind, reconcile of changes Jira never delivered.

A job finds what is due and queues it in the inbox as deliveries of its own; the worker
judges them with everything else, so jobs share one path with webhooks (judging on the
present, per-ticket order, recorded actions, retries, dead letters and replay). The
scheduler of `bridge serve` and the `bridge sweep` command run the same jobs.
"""
