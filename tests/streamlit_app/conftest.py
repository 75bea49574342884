"""The Streamlit app's tests share the real `stagecoach serve` of tests/cli."""

from tests.cli.conftest import account, served  # noqa: F401
