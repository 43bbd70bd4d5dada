/** 5, "5", "1, 2" or [1, 2] → numbers; undefined when any entry is not a positive integer. */
export function numberList(value: unknown): number[] | undefined {
  const items = Array.isArray(value)
    ? value
    : typeof value === "number"
      ? [value]
      : typeof value === "string"
        ? value.split(",").map((s) => s.trim())
        : [];
  const numbers = items.map((item) =>
    typeof item === "number"
      ? item
      : typeof item === "string" && /^\d+$/.test(item)
        ? Number(item)
        : Number.NaN,
  );
  if (numbers.length === 0 || numbers.some((n) => !Number.isSafeInteger(n) || n <= 0))
    return undefined;
  return numbers;
}
