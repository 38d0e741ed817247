"""A Bruco handler: counts the words of each event and answers with JSON.

init_context runs once per worker: it is where a model is loaded or a connection opened; here it keeps a counter
of the events this worker handled.
"""
import collections
import os


def init_context(context):
    context.handled = 0
    context.greeting = os.environ.get("GREETING", "")
    context.logger.info("ready (%s)", context.greeting)


def handle_event(context, data):
    context.handled += 1
    words = collections.Counter(data.decode("utf-8").split())
    return context.response(None, {"words": dict(words), "event": context.handled,
                                   "worker": context.worker_name, "greeting": context.greeting})
