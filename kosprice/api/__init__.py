"""The HTTP adapter: request schemas, the blueprint, error handlers, request context.

May import kosprice.ml, kosprice.monitoring and the bottom modules; nothing imports it but
kosprice.app.
"""
