"""labkit's pytest plugin, run in a real inner pytest session (pytester)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_a_test_that_configures_logging_does_not_break_later_tests(
    pytester: pytest.Pytester,
) -> None:
    """The first test points logging at its captured stderr, as an app's main() does; the
    second logs from a thread after that capture is closed. Without the plugin's restore,
    the second test's stderr holds "--- Logging error ---"."""
    pytester.makepyfile(
        """
        import logging, sys, threading

        from labkit.logs import configure_logging

        def test_first(capsys):
            configure_logging("INFO")
            logging.getLogger("x").info("from the first test")
            assert "from the first test" in capsys.readouterr().err

        def test_second(capsys):
            worker = threading.Thread(target=lambda: logging.getLogger("ws").info("open"))
            worker.start()
            worker.join()
            assert "Logging error" not in capsys.readouterr().err
            assert logging.getLogger().handlers == [] or all(
                getattr(h, "stream", None) is not sys.stderr
                for h in logging.getLogger().handlers
            )
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_the_plugin_restores_the_loggers_configure_logging_changes(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import logging

        from labkit.logs import configure_logging

        def test_first():
            configure_logging("DEBUG")

        def test_second():
            assert logging.getLogger().level == logging.WARNING
            assert logging.getLogger("httpx").level == logging.NOTSET
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
