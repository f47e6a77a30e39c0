"""kubefn's data plane: the aiohttp gateway that serves the AWS service APIs,
runs the instance pools and follows the config the control plane publishes.
"""
