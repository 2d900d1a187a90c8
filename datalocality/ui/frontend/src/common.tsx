import { Box, HStack, Spinner, Text } from "@chakra-ui/react";
import { useEffect, useState } from "react";
import { ApiError, getJson } from "./api";
import { exactBytes, formatBytes } from "./format";

export type FetchState<T> =
  | { status: "loading"; data: T | null }
  | { status: "ok"; data: T }
  | { status: "error"; error: ApiError; data: T | null };

/** Fetches `url` (a string so that the effect re-runs only when it changes). */
export function useJson<T>(url: string | null): FetchState<T> {
  const [state, setState] = useState<FetchState<T>>({ status: "loading", data: null });
  useEffect(() => {
    if (url === null) return undefined;
    const controller = new AbortController();
    setState((prev) => ({ status: "loading", data: prev.data }));
    getJson<T>(new URL(url), controller.signal).then(
      (data) => setState({ status: "ok", data }),
      (err: unknown) => {
        if (controller.signal.aborted) return;
        const error =
          err instanceof ApiError ? err : new ApiError(0, String((err as Error)?.message ?? err));
        setState((prev) => ({ status: "error", error, data: prev.data }));
      },
    );
    return () => controller.abort();
  }, [url]);
  return state;
}

export function Loading({ label }: { label: string }) {
  return (
    <HStack data-testid="loading" gap={2} p={4} color="fg.muted">
      <Spinner size="sm" />
      <Text>{label}</Text>
    </HStack>
  );
}

export function ErrorLine({ message, testId = "error" }: { message: string; testId?: string }) {
  return (
    <Box
      data-testid={testId}
      role="alert"
      colorPalette="red"
      bg="colorPalette.subtle"
      color="colorPalette.fg"
      borderWidth="1px"
      borderColor="colorPalette.muted"
      borderRadius="md"
      px={3}
      py={2}
      my={2}
      whiteSpace="nowrap"
      overflow="hidden"
      textOverflow="ellipsis"
      title={message}
    >
      {message}
    </Box>
  );
}

export function Bytes({ value }: { value: number | null | undefined }) {
  return (
    <Text as="span" title={exactBytes(value)} whiteSpace="nowrap">
      {formatBytes(value)}
    </Text>
  );
}
