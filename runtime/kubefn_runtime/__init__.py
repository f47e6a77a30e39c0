"""What runs inside every function instance: the runtime agent (Lambda Runtime API
and the invoke endpoint the gateway calls) and kubefn's own Python runtime client.

Standard library only, so function images stay small and start fast.
"""
