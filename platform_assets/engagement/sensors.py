"""engagement's sensors: a delivered month becomes a materialization of the landing asset;
declarative automation on the assets does the rest."""

from platform_assets.engagement.assets import landing_customers
from platform_assets.engagement.keys import JOB
from platform_assets.sensors import automation_sensor, landing_sensor
from platform_core.periods import month_label, parse_month

customers_sensor = landing_sensor(f"{JOB}_customers_sensor", landing_customers, lambda w: w.layout().landing_area(JOB),
                                  lambda name: parse_month(name).isoformat(), lambda key: month_label(parse_month(key)))
sensors = [customers_sensor, automation_sensor(JOB)]
