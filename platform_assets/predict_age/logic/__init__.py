"""predict_age's plain logic: never imports dagster."""
