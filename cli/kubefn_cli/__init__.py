"""The `kubefn` command line: wires core, gateway and operator together."""
