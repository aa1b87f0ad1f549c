"""wait_times' sensors: a delivered day becomes a materialization of the landing asset;
declarative automation on the assets does the rest."""

from datetime import date

from platform_assets.sensors import automation_sensor, landing_sensor
from platform_assets.wait_times.assets import landing_observations
from platform_assets.wait_times.keys import JOB

observations_sensor = landing_sensor(f"{JOB}_observations_sensor", landing_observations,
                                     lambda w: w.layout().landing_area(JOB),
                                     lambda name: date.fromisoformat(name).isoformat(), lambda key: key)
sensors = [observations_sensor, automation_sensor(JOB)]
