"""The interfaces: the CLI, the batch and Ray engines, the app, the report, replay and the one writer."""
