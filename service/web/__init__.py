"""The web application around the stages: app factory, services, problems, access log, metrics."""
