"""Where things are, for tests that run the command or read shared files."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]          # the checkout, which is the csi_coach package
BOT = ROOT / "bot.py"
SHARED = ROOT.parent / "shared"                      # ../shared: the dev set and the Jira schema
FIXTURES = ROOT / "tests" / "fixtures"
