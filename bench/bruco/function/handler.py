"""The benchmark's handler: parse the JSON body, add a field, return the dict (Roo and the baselines write it as
JSON). Roo, aiohttp and the standard-library server all call this module through wallaroo._bruco.Handler."""
import json


def handle_event(context, data):
    event = json.loads(data)
    event["handled_by"] = context.worker_name
    return event
