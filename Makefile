# Two commands on a fresh machine (see README):
#   make demo   Kratos (KRATOS_VERSION, default v26.2.0) + the chi example app on 127.0.0.1
#   make test   every test, unit and end-to-end against the real Kratos
.PHONY: test demo demo-stop kratos bench bench-many

test:
	scripts/test.sh

demo:
	scripts/demo.sh start

demo-stop:
	scripts/demo.sh stop

kratos:
	scripts/kratos.sh build

bench:
	scripts/bench.sh
	scripts/bench-many.sh

bench-many:
	scripts/bench-many.sh
