"""wait_times plain logic: never imports dagster."""
