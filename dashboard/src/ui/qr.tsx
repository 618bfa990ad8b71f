// A QR code of a URL, drawn by the `qrcode` library into a data: URL image (allowed by the CSP).
import QRCode from "qrcode";
import { useEffect, useState } from "preact/hooks";

export function QrCode({ value, alt, testid }: { value: string; alt: string; testid: string }) {
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    QRCode.toDataURL(value, { width: 220, margin: 2, errorCorrectionLevel: "M" }).then(
      (url) => live && setSrc(url),
      () => live && setSrc(null),
    );
    return () => {
      live = false;
    };
  }, [value]);
  if (!src) return null;
  return <img class="qr" src={src} alt={alt} width={220} height={220} data-testid={testid} />;
}
