"""One scan of the configured sources: the pipeline per source, the state it keeps, the
watermark, the lock, the result, and the scheduler that repeats it."""
