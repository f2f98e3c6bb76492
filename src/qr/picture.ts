import QRCode from 'qrcode'

/**
 * A QR code as a PNG data URL, for a page to show. One PNG filter ("up": a QR row repeats the row
 * above it `scale` times) instead of pngjs' adaptive search over all five, which took most of the
 * time of issuing a parcel code; the picture is the same size and reads the same.
 */
export function qrPictureDataUrl(payload: string, scale = 8): Promise<string> {
  return QRCode.toDataURL(payload, { errorCorrectionLevel: 'M', margin: 4, scale, rendererOpts: { filterType: 2, deflateLevel: 6 } } as QRCode.QRCodeToDataURLOptions)
}
