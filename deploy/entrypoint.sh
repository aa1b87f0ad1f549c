#!/bin/sh
# Install the Dagster instance file of $PLATFORM_ENV, then run the container's command.
set -eu
cp "/opt/dagster/app/deploy/${PLATFORM_ENV:?set PLATFORM_ENV to ecs or k8s}/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"
exec "$@"
