# Shortcuts for ./dev.sh, which bootstraps .venv and needs nothing but Python 3.11+.
.PHONY: demo test bench clean
demo:
	./dev.sh demo $(ARGS)
test:
	./dev.sh test $(PYTEST_ARGS)
bench:
	./dev.sh bench
clean:
	rm -rf .venv build *.egg-info
