"""Studies of networks and engines: real TensorRT engine listings aligned with the netdefs' predicted fusions."""
