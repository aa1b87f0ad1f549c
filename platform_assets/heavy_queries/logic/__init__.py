"""heavy_queries plain logic: never imports dagster."""
