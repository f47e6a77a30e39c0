"""kubefn core: resource specs, their validation and compilation, limits, and the
compiled-config contract between the control plane and the data plane.

Both planes import this package; it imports neither of them.
"""
