"""``DataAvailableSensor``: wait until a resolver reports a data input exists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from datalocality.model.quantities import parse_bytes
from datalocality.sensors.base import TriggerSensor
from datalocality.triggers.data import DataAvailableTrigger


class DataAvailableSensor(TriggerSensor):
    """Waits until ``system``/``data_source_type``/``name`` resolves, optionally big enough.

    ``min_bytes`` takes a number or a quantity (``"10Gi"``), ``min_chunks`` a count.
    Resolvers come as for every task of the provider (DataLocalityHook: the ``datalocality``
    connection ``datalocality_conn_id`` and/or a ``resolvers_config`` file), read when the
    wait starts, with ``resolvers`` (system → config) laid over them. The
    result (XCom) has ``bytes``, ``chunks`` and the source's nodes, zones and clusters.
    """

    template_fields: Sequence[str] = (
        "system",
        "data_source_type",
        "name",
        "attributes",
        "resolvers",
        "datalocality_conn_id",
        "resolvers_config",
        "min_bytes",
        "min_chunks",
    )
    ui_color = "#f3ecd6"

    def __init__(
        self,
        *,
        system: str,
        name: str,
        data_source_type: str = "table",
        attributes: Mapping[str, str] | None = None,
        resolvers: Mapping[str, Any] | None = None,
        datalocality_conn_id: str | None = None,
        resolvers_config: str | None = None,
        min_bytes: int | str | None = None,
        min_chunks: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.system = system
        self.name = name
        self.data_source_type = data_source_type
        self.attributes = dict(attributes or {})
        self.resolvers = dict(resolvers or {})
        self.datalocality_conn_id = datalocality_conn_id
        self.resolvers_config = resolvers_config
        self.min_bytes = min_bytes
        self.min_chunks = min_chunks

    def build_trigger(self) -> DataAvailableTrigger:
        """The trigger for the rendered input, config and thresholds."""
        min_bytes = (
            None if self.min_bytes in (None, "") else parse_bytes("min_bytes", self.min_bytes)
        )
        min_chunks = None if self.min_chunks is None else int(self.min_chunks)
        return DataAvailableTrigger(
            data_input={
                "system": self.system,
                "dataSourceType": self.data_source_type,
                "dataSourceName": self.name,
                "attributes": self.attributes,
            },
            resolvers=self.resolvers,
            datalocality_conn_id=self.datalocality_conn_id,
            resolvers_config=self.resolvers_config,
            min_bytes=min_bytes,
            min_chunks=min_chunks,
            poll_interval=self.poke_interval,
            timeout=self.timeout,
        )
