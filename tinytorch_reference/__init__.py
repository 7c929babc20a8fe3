"""The project's own complete TinyTorch: the yardstick every check compares a student's package against.

Import it as `tinytorch_reference.tinytorch` beside a student's `tinytorch`, or put this folder on
`sys.path` and import `tinytorch` exactly as a student's package is imported.
"""
