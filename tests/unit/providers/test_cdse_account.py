"""One CDSE account (providers.cdse.download.cdse_tokens) for the product and the burst downloads."""

from __future__ import annotations

from pydantic import SecretStr

from common.settings import Settings
from providers.cdse.bursts import CdseBurstDownloader
from providers.cdse.download import CLIENT_ID, CdseDownloader, cdse_tokens

PASSWORD = "cdse-test-password"


def test_the_product_and_burst_downloads_share_the_accounts_tokens() -> None:
    settings = Settings(cdse_username="user@example.org", cdse_password=SecretStr(PASSWORD))
    products, bursts = CdseDownloader.from_settings(settings), CdseBurstDownloader.from_settings(settings)
    assert products is not None and bursts is not None
    assert products.tokens is bursts.tokens is cdse_tokens(settings), "one token manager, 4 connections"
    account = products.tokens.account
    assert (account.client_id, account.username, account.token_url) == (
        CLIENT_ID,
        "user@example.org",
        settings.cdse_token_url,
    )
    assert "GEOCUBE_INGESTER_CDSE_PASSWORD" in account.settings
    assert PASSWORD not in repr(products) and PASSWORD not in repr(bursts)


def test_without_an_account_neither_is_configured() -> None:
    for settings in (Settings(), Settings(cdse_username="user@example.org")):
        assert cdse_tokens(settings) is None
        assert CdseDownloader.from_settings(settings) is None
        assert CdseBurstDownloader.from_settings(settings) is None
