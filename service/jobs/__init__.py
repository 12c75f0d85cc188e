"""Background jobs on RQ: job functions, the queue that enqueues them, and the workers."""
