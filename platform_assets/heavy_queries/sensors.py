"""heavy_queries' sensors: a delivered day of the query log becomes a materialization of the
landing asset; declarative automation on the assets does the rest."""

from datetime import date

from platform_assets.heavy_queries.assets import landing_query_log
from platform_assets.heavy_queries.keys import JOB
from platform_assets.sensors import automation_sensor, landing_sensor

log_sensor = landing_sensor(f"{JOB}_log_sensor", landing_query_log, lambda w: w.layout().landing_area(JOB),
                            lambda name: date.fromisoformat(name).isoformat(), lambda key: key)
sensors = [log_sensor, automation_sensor(JOB)]
