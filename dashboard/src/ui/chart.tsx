// A Chart.js chart (only the pieces it uses are registered, so the rest is tree-shaken).
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { useEffect, useRef } from "preact/hooks";

Chart.register(BarController, BarElement, CategoryScale, Filler, LinearScale, LineController, LineElement, PointElement, Tooltip);

export function ChartView({
  kind,
  labels,
  values,
  seriesLabel,
  description,
  testid,
}: {
  kind: "line" | "bar";
  labels: string[];
  /** Chart heights only: the exact figures are in the tables beside each chart. */
  values: number[];
  seriesLabel: string;
  description: string;
  testid: string;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const chart = new Chart(canvas.current, {
      type: kind,
      data: {
        labels,
        datasets: [
          {
            label: seriesLabel,
            data: values,
            borderColor: "#0b5cad",
            backgroundColor: kind === "bar" ? "#4f8fd6" : "rgba(11, 92, 173, 0.15)",
            fill: kind === "line",
            tension: 0.2,
            pointRadius: labels.length > 40 ? 0 : 3,
          },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: false }, tooltip: { enabled: true } },
        scales: { y: { beginAtZero: true } },
      },
    });
    return () => chart.destroy();
  }, [kind, JSON.stringify(labels), JSON.stringify(values), seriesLabel]);
  return (
    <div class="chart-box" data-testid={testid}>
      <canvas ref={canvas} role="img" aria-label={description} />
    </div>
  );
}
