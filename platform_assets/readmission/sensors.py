"""readmission's sensors: a delivered month of encounters becomes a materialization of the landing
asset; declarative automation on the assets does the rest."""

from platform_assets.readmission.assets import landing_encounters
from platform_assets.readmission.keys import JOB
from platform_assets.sensors import automation_sensor, landing_sensor
from platform_core.periods import month_label, parse_month

encounters_sensor = landing_sensor(f"{JOB}_encounters_sensor", landing_encounters, lambda w: w.layout().landing_area(JOB),
                                   lambda name: parse_month(name).isoformat(), lambda key: month_label(parse_month(key)))
sensors = [encounters_sensor, automation_sensor(JOB)]
