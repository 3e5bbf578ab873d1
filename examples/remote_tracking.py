"""The tracking tutorial's "Setting Up a Remote Tracking Server" scenario, with autolog.

Start a server first (it listens on 127.0.0.1:5000 by default)::

    autolog server --backend-store-uri sqlite:///autolog.db --default-artifact-root ./autolog-artifacts

then run this script. The server's address comes from ``$AUTOLOG_TRACKING_URI`` when it is set
(the tutorial hard-codes a host name; the rest is the tutorial's code with the import changed).
"""

import os

import autolog

# Set tracking URI to remote server
autolog.set_tracking_uri(os.environ.get("AUTOLOG_TRACKING_URI", "http://127.0.0.1:5000"))

# Optionally set via environment variable
os.environ["AUTOLOG_TRACKING_URI"] = autolog.get_tracking_uri()

# Now all experiments are logged to the remote server
autolog.set_experiment("remote_experiment")

with autolog.start_run():
    autolog.log_param("remote", True)
    autolog.log_metric("test_metric", 0.95)

print(f"Logged to {autolog.get_tracking_uri()}")
