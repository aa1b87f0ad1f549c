"""readmission plain logic: never imports dagster."""
