"""The examples, shipped as package data (*.task): `taskdsl demo` trains one of them."""
