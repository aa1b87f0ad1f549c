"""The wait_times dashboard: a Dash app over the job's tables (`python -m platform_assets.wait_times.dashboard`).
Reads only; never imports dagster."""
